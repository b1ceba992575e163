"""The object kinds the shipped detector is trained on, in the fixed order of the model's class indices."""

from __future__ import annotations

from typing import Literal

ObjectKind = Literal["car", "truck", "boat", "person", "stall", "cart", "smoke", "fire", "garbage", "rubble"]

# The index of a name is its YOLO class id; appending keeps old weights valid, reordering does not.
CLASS_NAMES: tuple[ObjectKind, ...] = (
    "car", "truck", "boat", "person", "stall", "cart", "smoke", "fire", "garbage", "rubble",
)
CLASS_IDS: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}
