"""Small PyTorch modules for the flavor tests (importable by name, as a saved model's class must be)."""

from __future__ import annotations

import torch


class MLP(torch.nn.Module):
    """Keeps its constructor arguments as attributes: mlnb reads them from there."""

    def __init__(self, n_in: int, hidden: int, n_out: int = 2, activation: str = "relu") -> None:
        super().__init__()
        self.n_in, self.hidden, self.n_out, self.activation = n_in, hidden, n_out, activation
        self.layers = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                          torch.nn.Linear(hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Opaque(torch.nn.Module):
    """Does not keep its constructor argument: it must be given as init_args."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
