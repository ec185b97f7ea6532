"""Bulk import and export of records: one pipeline for the commands and the console.

    from records.importing import import_records, iter_export
    report = import_records(klass, uploaded_file, "csv", owner_id=12, dry_run=True)
    report.summary(), report.errors  # [(line, message), ...]

See docs/bulk.md for the formats and the behaviour.
"""

from config.streams import FORMATS, ImportFailed

from .export import export_records, iter_export
from .pipeline import DEFAULT_BATCH_SIZE, ImportReport, import_records
from .writer import CONFLICT_MODES

__all__ = [
    "CONFLICT_MODES",
    "DEFAULT_BATCH_SIZE",
    "FORMATS",
    "ImportFailed",
    "ImportReport",
    "export_records",
    "import_records",
    "iter_export",
]
