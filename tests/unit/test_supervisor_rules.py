"""The dev supervisor's pure rules: restart backoff, port-in-use wording, process records."""

from __future__ import annotations

import signal

from services.cli.leftovers import Recorded, decode_record, encode_record, looks_like_dev_supervisor
from services.cli.listeners import FixedPort, Holder, Listener, holder_message, parse_proc_net_tcp
from services.cli.supervisor import (
    HEALTHY_AFTER_SECONDS,
    Backoff,
    restart_delay,
    restarts_in_a_row,
)
from services.common.processes import ProcessIdentity, start_ticks


def test_restart_delay_doubles_from_two_seconds_to_a_thirty_second_cap() -> None:
    assert [restart_delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 30, 30, 30]


def test_a_child_that_ran_healthy_for_the_threshold_counts_its_restarts_afresh() -> None:
    assert restarts_in_a_row(5, ran_for=60.0, healthy_after=60.0) == 1
    assert restarts_in_a_row(5, ran_for=3600.0, healthy_after=60.0) == 1


def test_a_child_that_crashes_before_the_threshold_keeps_backing_off() -> None:
    assert restarts_in_a_row(3, ran_for=59.9, healthy_after=60.0) == 4


def test_healthy_threshold_is_sixty_seconds_by_default() -> None:
    assert HEALTHY_AFTER_SECONDS == 60.0


def test_backoff_grows_while_crashing_and_resets_after_a_healthy_run() -> None:
    backoff = Backoff()
    delays = []
    now = 0.0
    for _ in range(4):  # crashes one second after each start
        backoff.started(now)
        now += 1.0
        delays.append(backoff.exited(now, healthy_after=60.0))
        now = backoff.next_start
        assert backoff.due(now)
        assert not backoff.due(now - 0.1)
    assert delays == [2, 4, 8, 16]
    backoff.started(now)
    now += 61.0  # up and healthy for longer than the threshold, then it exits
    assert backoff.exited(now, healthy_after=60.0) == 2
    assert backoff.restarts == 1


def test_a_shorter_threshold_resets_sooner() -> None:
    backoff = Backoff(restarts=4)
    backoff.started(100.0)
    assert backoff.exited(102.0, healthy_after=1.5) == 2


PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5775 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1155 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C8B8 01 00000000:00000000 00:00000000 00000000     0        0 30083 3 0000000000000000 20 4 0 18 -1
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 6792 1 0000000000000000 100 0 0 10 0
"""


def test_listening_sockets_are_read_from_proc_net_tcp_and_connections_ignored() -> None:
    assert parse_proc_net_tcp(PROC_NET_TCP) == [
        Listener("127.0.0.1", 8080, 5775),
        Listener("0.0.0.0", 8000, 1155),
    ]


def test_ipv6_listeners_are_decoded_word_by_word() -> None:
    assert parse_proc_net_tcp(PROC_NET_TCP6) == [Listener("::1", 8080, 6792)]


OPS = FixedPort("ops dashboard", "127.0.0.1", 8080, "FRONTDOOR_OPS_PORT")


def test_port_in_use_message_names_port_holder_pid_command_and_setting_on_one_line() -> None:
    message = holder_message(OPS, Holder(4242, ("python3", "-m", "http.server", "8080")))
    assert message == (
        "port 8080 (ops dashboard, 127.0.0.1:8080) is already in use by pid 4242 "
        "(python3 -m http.server 8080); stop it or set FRONTDOOR_OPS_PORT to a free port"
    )


def test_port_in_use_message_stays_one_short_line_for_a_long_multiline_command() -> None:
    message = holder_message(OPS, Holder(7, ("sh", "-c", "echo hi\n" + "x" * 500)))
    assert "\n" not in message
    assert len(message) < 300
    assert "pid 7" in message


def test_port_in_use_message_when_the_holder_is_not_visible() -> None:
    message = holder_message(OPS, None)
    assert message.startswith("port 8080 (ops dashboard, 127.0.0.1:8080) is already in use by")
    assert "cannot see" in message
    assert "\n" not in message


def test_start_time_is_read_after_a_command_name_holding_spaces_and_parentheses() -> None:
    stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 " + " ".join(
        str(n) for n in range(10, 25)
    )
    # fields after "(comm)": state, ppid, pgrp, session, tty, tpgid, flags, then 10, 11, …
    assert start_ticks(stat) == 22


def test_process_record_round_trips() -> None:
    supervisor = ProcessIdentity(10, 1000, ("frontdoor", "dev"))
    children = [
        Recorded("broker", ProcessIdentity(11, 1001, ("tansu", "broker"))),
        Recorded("postgres", ProcessIdentity(12, 1002, ("postgres", "-D", "x")), signal.SIGINT),
    ]
    assert decode_record(encode_record(supervisor, children)) == (supervisor, children)


def test_dev_supervisor_command_lines_are_recognised() -> None:
    assert looks_like_dev_supervisor(("/venv/bin/frontdoor", "dev"))
    assert looks_like_dev_supervisor(("python", "-m", "services.cli.main", "dev", "--no-demo"))
    assert not looks_like_dev_supervisor(("python", "-m", "services.cli.main", "worker", "sla"))
    assert not looks_like_dev_supervisor(("vim", "dev"))
