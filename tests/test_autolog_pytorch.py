"""mlnb.pytorch.log_epoch in a tiny real PyTorch loop: the epoch metrics as steps equal to the
loop's own values, the params once, into the active run (or one it starts); a logging failure is
a warning and the loop goes on; argument mistakes are clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import mlnb  # noqa: E402
from mlnb.errors import InvalidParameterError  # noqa: E402


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlnb.MlnbClient().get_metric_history(run_id, key)]


def train(epochs: int = 2, **extra: object) -> list[float]:
    """A 2-layer net on 64 rows; log_epoch once an epoch with the loss tensor itself."""
    torch.manual_seed(0)
    X = torch.randn(64, 3)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]])
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        mlnb.pytorch.log_epoch({"loss": loss, "lr": opt.param_groups[0]["lr"], **extra},
                               params={"lr": 0.05, "hidden": 4})
    return losses


def test_epoch_metrics_are_steps_and_params_are_logged_once(tracking: Path) -> None:
    with mlnb.start_run() as run, warnings.catch_warnings():
        warnings.simplefilter("error")  # a loss tensor needing grad is read without a warning
        losses = train()
    assert history(run.run_id, "loss") == [(i, pytest.approx(v, rel=1e-6))
                                           for i, v in enumerate(losses)]
    assert history(run.run_id, "lr") == [(0, 0.05), (1, 0.05)]
    assert mlnb.get_run(run.run_id).data.params == {"lr": "0.05", "hidden": "4"}


def test_without_an_active_run_it_starts_one_as_log_metrics_does(tracking: Path) -> None:
    losses = train()
    active = mlnb.active_run()
    assert active is not None
    mlnb.end_run()
    assert [s for s, _ in history(active.run_id, "loss")] == [0, 1]
    assert [v for _, v in history(active.run_id, "loss")] == pytest.approx(losses, rel=1e-6)


def test_an_explicit_step_and_the_next_default_one(tracking: Path) -> None:
    with mlnb.start_run() as run:
        assert mlnb.pytorch.log_epoch({"acc": 0.5}, step=10) == 10
        assert mlnb.pytorch.log_epoch({"acc": 0.6}) == 11
    assert history(run.run_id, "acc") == [(10, 0.5), (11, 0.6)]


def test_a_logging_failure_is_a_warning_and_the_loop_completes(tracking: Path) -> None:
    with mlnb.start_run() as run:
        mlnb.log_param("lr", "0.1")  # a param is fixed once logged: log_epoch's 0.05 conflicts
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses = train(weights=torch.ones(3))  # not one number
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("log_epoch could not log the params" in m and "lr" in m for m in messages), messages
    assert any("could not log the metric 'weights' (its value must be one number)" in m
               for m in messages), messages
    assert len(losses) == 2
    assert [s for s, _ in history(run.run_id, "loss")] == [0, 1]
    assert history(run.run_id, "weights") == []


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((0.5,), {}, "takes the metrics as a dict of name -> value, not float"),
    (({"loss": 1.0},), {"step": -1}, "step must be a non-negative integer, not -1"),
    (({"loss": 1.0},), {"params": ["lr"]}, "params must be a dict of name -> value, not list"),
])
def test_argument_mistakes_are_clear_errors(tracking: Path, args: tuple, kwargs: dict,
                                            message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        mlnb.pytorch.log_epoch(*args, **kwargs)
    assert mlnb.active_run() is None  # nothing was started for a mistake
