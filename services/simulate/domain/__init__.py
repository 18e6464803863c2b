"""Pure generation of the synthetic feed: calendar, population, case episodes, the daily feed."""
