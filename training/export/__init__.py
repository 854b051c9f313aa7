"""Model bundles: `export_bundle` writes a trained run for serving and `load_bundle` opens it verified."""

from training.export.bundle import export_bundle
from training.export.errors import BundleError, ExportError
from training.export.layout import BUNDLE_FORMAT_VERSION
from training.export.loader import Bundle, load_bundle

__all__ = ["BUNDLE_FORMAT_VERSION", "Bundle", "BundleError", "ExportError", "export_bundle", "load_bundle"]
