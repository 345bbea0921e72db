"""The resilience tests' figures, printed in the run's summary (and so in CI's log)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

FIGURES = pytest.StashKey[list[tuple[str, Mapping[str, object]]]]()


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> Callable[[str, Mapping[str, object]], None]:
    """``report_figures("multi-host", {"requests": 812, ...})``: one line in the summary."""
    reported = request.config.stash.setdefault(FIGURES, [])

    def report(title: str, figures: Mapping[str, object]) -> None:
        reported.append((title, dict(figures)))
        print(f"{title}: " + ", ".join(f"{k} = {v}" for k, v in figures.items()))

    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    reported = config.stash.get(FIGURES, [])
    if reported:
        terminalreporter.section("resilience figures")
        for title, figures in reported:
            line = ", ".join(f"{k} = {v}" for k, v in figures.items())
            terminalreporter.write_line(f"{title}: {line}")
