"""Monitoring: has the data a model sees drifted from what it was trained on?

``mlnb.monitor.drift_report(reference, current)`` tests each column with the test the
established tools choose for its type and size and renders inline. Nothing here imports numpy,
pandas or scipy until a report is made.
"""

from __future__ import annotations

from mlnb.monitor.drift import ColumnDrift, DriftReport, SmallSampleWarning, drift_report
from mlnb.monitor.predictions import prediction_counts, predictions
from mlnb.monitor.stattests import TESTS, StatTest

__all__ = ["TESTS", "ColumnDrift", "DriftReport", "SmallSampleWarning", "StatTest", "drift_report",
           "prediction_counts", "predictions"]
