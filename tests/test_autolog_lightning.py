"""mlnb.pytorch.MlnbLogger on tiny real PyTorch Lightning fits: hyper-parameters as params,
self.log() metrics as points at the global step, into the active run or a run it starts and ends
(FAILED when training fails), checkpoints as artifacts with log_model=True."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
lightning = pytest.importorskip("lightning")

import mlnb  # noqa: E402


class Tiny(lightning.LightningModule):  # type: ignore[misc]
    def __init__(self, lr: float = 0.05, hidden: int = 3, fail: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Linear(hidden, 1))

    def training_step(self, batch: Any, index: int) -> Any:
        if self.hparams.fail:
            raise RuntimeError("the model's own bug")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader() -> Any:
    torch.manual_seed(0)
    x = torch.randn(32, 2)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=8)


def trainer(logger: Any, tmp_path: Path, **kwargs: Any) -> Any:
    return lightning.Trainer(max_epochs=2, logger=logger, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=tmp_path,
                             accelerator="cpu", **kwargs)


def test_a_fit_logs_params_and_step_metrics_into_a_run_it_starts_and_ends(
        tracking: Path, tmp_path: Path) -> None:
    logger = mlnb.pytorch.MlnbLogger(experiment_name="lightning", run_name="tiny",
                                     tags={"team": "cv"})
    trainer(logger, tmp_path, enable_checkpointing=False, log_every_n_steps=1).fit(Tiny(), loader())
    run = mlnb.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    assert mlnb.active_run() is None
    assert run.data.params == {"lr": "0.05", "hidden": "3", "fail": "False"}
    assert run.data.tags["team"] == "cv" and logger.name == "lightning"
    steps = [m.step for m in mlnb.MlnbClient().get_metric_history(run.info.run_id,
                                                                   "train_loss_step")]
    assert steps == list(range(8))  # 4 batches x 2 epochs, at Lightning's global step
    epochs = mlnb.MlnbClient().get_metric_history(run.info.run_id, "train_loss_epoch")
    assert len(epochs) == 2


def test_inside_an_active_run_it_logs_there_and_leaves_it_open(tracking: Path,
                                                               tmp_path: Path) -> None:
    with mlnb.start_run() as run:
        logger = mlnb.pytorch.MlnbLogger(prefix="fit")
        trainer(logger, tmp_path, enable_checkpointing=False).fit(Tiny(), loader())
        assert logger.run_id == run.run_id and mlnb.active_run() is not None
    metrics = mlnb.get_run(run.run_id).data.metrics
    assert "fit-train_loss_epoch" in metrics


def test_a_failed_fit_marks_its_run_failed(tracking: Path, tmp_path: Path) -> None:
    logger = mlnb.pytorch.MlnbLogger()
    with pytest.raises(RuntimeError, match="the model's own bug"):
        trainer(logger, tmp_path, enable_checkpointing=False).fit(Tiny(fail=True), loader())
    assert mlnb.get_run(logger.run_id).info.status == "FAILED"


def test_log_model_logs_the_checkpoints(tracking: Path, tmp_path: Path) -> None:
    logger = mlnb.pytorch.MlnbLogger(log_model=True)
    trainer(logger, tmp_path).fit(Tiny(), loader())
    files = [f.path for f in mlnb.MlnbClient().list_artifacts(logger.run_id, "checkpoints")]
    assert files and all(f.endswith(".ckpt") for f in files)
