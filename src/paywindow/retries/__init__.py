"""Failed-payment retries: the policy (decline table), plans, running an attempt, the recovery
report.

Siblings and shells import these names from here (see ``paywindow._faces``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paywindow._faces import face

if TYPE_CHECKING:
    from paywindow.retries.policy import DeclineClass, RetryPolicy, classify
    from paywindow.retries.report import plan_view, recovery_report, write_recovery_report
    from paywindow.retries.run import retry_now, run_retries

__all__ = [
    "DeclineClass",
    "RetryPolicy",
    "classify",
    "plan_view",
    "recovery_report",
    "retry_now",
    "run_retries",
    "write_recovery_report",
]

__getattr__ = face(
    __name__,
    {
        "DeclineClass": "policy",
        "RetryPolicy": "policy",
        "classify": "policy",
        "plan_view": "report",
        "recovery_report": "report",
        "retry_now": "run",
        "run_retries": "run",
        "write_recovery_report": "report",
    },
)
