"""Returns settings: who the council is and how its CIN census identifies the sending software.

``FRONTDOOR_LA_CODE`` is the DfE three-digit local authority number written as the census
``LEA`` (default 372, Rotherham, the borough the simulator models). The ``Source`` block's
``SoftwareCode``, ``Release`` and ``SerialNo`` come from ``FRONTDOOR_RETURNS_SOFTWARE_CODE``,
``FRONTDOOR_RETURNS_RELEASE`` and ``FRONTDOOR_RETURNS_SERIAL_NO`` (a serial of three or more
digits, as the DfE schema requires).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReturnsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_RETURNS_", frozen=True)

    la_code: str = Field(
        default="372",
        pattern=r"^\d{3}$",
        validation_alias=AliasChoices("FRONTDOOR_LA_CODE", "la_code"),
    )
    software_code: str = Field(default="frontdoor", min_length=1)
    release: str = Field(default="0.1.0", min_length=1)
    serial_no: str = Field(default="001", pattern=r"^\d{3,}$")
