"""Where torch trains and answers queries: ``auto`` (a GPU when torch sees one), ``cpu`` or ``cuda``.

Example:
    >>> resolve_device("cpu")
    'cpu'
"""

from typing import Literal

import torch

DeviceSetting = Literal["auto", "cpu", "cuda"]


def resolve_device(setting: DeviceSetting) -> str:
    """The torch device a setting names on this machine: ``auto`` is ``cuda`` when torch sees a GPU."""
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return setting
