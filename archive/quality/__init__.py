"""Image quality: metrics measured on decoded pixels (``metrics``) and the incremental run (``run``).

The results live in the store (table ``qa_metrics``; views ``qa_instance_metrics``,
``qa_outliers``, ``qa_group_summary``, migration 0005) so notebooks and pages read the same numbers.
"""

from archive.quality.metrics import METRICS_VERSION, ImageMetrics, measure, measure_dataset

__all__ = ["METRICS_VERSION", "ImageMetrics", "measure", "measure_dataset"]
