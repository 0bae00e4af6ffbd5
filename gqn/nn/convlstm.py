"""ConvLSTM cell whose constant inputs are convolved once per image, not once per step."""

from __future__ import annotations

import torch
from torch import nn


class ConvLSTMCell(nn.Module):
    """A 2-D LSTM: gates = conv([x, h]) + bias_map.

    `bias_map` carries the inputs that stay fixed over the L steps (r, viewpoint, target image):
    a conv of a concatenation is the sum of convs of its parts, so the caller convolves them
    once and passes the result here. The cell state is kept in fp32 even under bf16 autocast.
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
                bias_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        gates = (self.conv(torch.cat([x, h], 1)) + bias_map).float()
        i, f, o, g = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c
