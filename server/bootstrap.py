"""First start: train the bootstrap model, export its bundle and register it, so that later starts are immediate."""

import logging
import shutil
from pathlib import Path

from server.db import make_engine, make_session_factory, upgrade_database
from server.registry import active_version
from server.settings import Settings
from training.config import TrainConfig, preset_config
from training.data import load_dataset
from training.export import export_bundle, load_bundle
from training.train import Trainer

logger = logging.getLogger(__name__)


def bootstrap_config(settings: Settings) -> TrainConfig:
    """Build the bootstrap training config from the preset, the data set, the step budget and the overrides."""
    config = preset_config(settings.bootstrap_preset)
    config.data = settings.bootstrap_data
    for name, value in settings.bootstrap_model.items():
        if not hasattr(config.model, name):
            raise ValueError(f"ACN_BOOTSTRAP_MODEL sets {name!r}, which is not a ModelConfig field; remove it")
        setattr(config.model, name, value)
    for name, value in settings.bootstrap_train.items():
        if name == "model" or not hasattr(config, name):
            raise ValueError(f"ACN_BOOTSTRAP_TRAIN sets {name!r}, which is not a TrainConfig field; remove it")
        setattr(config, name, value)
    if settings.bootstrap_steps is not None:
        config.steps, config.minutes = settings.bootstrap_steps, None
    if settings.bootstrap_minutes is not None:
        config.minutes = settings.bootstrap_minutes
    # Re-validate after the overrides.
    return TrainConfig.from_dict(config.to_dict())


def bundle_to_serve(settings: Settings, show_progress: bool = True) -> Path:
    """Return ACN_BUNDLE, else the active registered bundle, else a freshly trained and registered one."""
    if settings.bundle is not None:
        return settings.bundle
    upgrade_database(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url, settings.sqlite_busy_timeout_ms)
    try:
        row = active_version(make_session_factory(engine))
    finally:
        engine.dispose()
    if row is not None:
        return Path(row.bundle_path)
    return train_and_export(settings, show_progress)


def train_and_export(settings: Settings, show_progress: bool) -> Path:
    """Train the bootstrap model from scratch and export it; the server registers the bundle when it loads it."""
    config = bootstrap_config(settings)
    run_dir = settings.bootstrap_run_dir
    bundle_dir = settings.bundles_dir / "bootstrap"
    if run_dir.exists():
        # A run left by an interrupted first start; its config may differ from the current settings.
        logger.warning("removing the unfinished bootstrap run %s and training again", run_dir)
        shutil.rmtree(run_dir)
    dataset = load_dataset(config.data, image_size=config.model.image_size, binarize=config.binarize)
    logger.info(
        "no model registered yet: training the %s preset on %s for at most %d steps%s, then exporting to %s",
        config.preset, config.data, config.steps,
        f" or {config.minutes:g} minutes" if config.minutes else "", bundle_dir,
    )  # fmt: skip
    Trainer(config, dataset, run_dir).run(show_progress=show_progress)
    export_bundle(run_dir, bundle_dir, show_progress=show_progress)
    load_bundle(bundle_dir, device="cpu")  # fail here, with the file named, rather than at serving time
    return bundle_dir
