"""Number plates drawn as a camera would see them, for plate reading tests and the demo's parked car: the
blue (ordinary), green (new energy) and yellow plate colours with the plate's characters in Noto Sans CJK
(Debian's fonts-noto-cjk, which `make tools` installs with Chromium)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
COLOURS = {  # (background, text) in RGB
    "blue": ((10, 60, 170), (245, 245, 245)),
    "green": ((120, 200, 120), (10, 10, 10)),
    "yellow": ((240, 190, 20), (10, 10, 10)),
}


def font_available() -> bool:
    return FONT.exists()


def plate_image(text: str, height_px: int = 48, colour: str = "blue") -> np.ndarray:
    """A BGR plate of `text` (粤B12345 is drawn as 粤B·12345), 440:140 like the real 440 x 140 mm plate."""
    bg, fg = COLOURS[colour]
    w, h = round(height_px * 440 / 140), height_px
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    draw.rectangle((2, 2, w - 3, h - 3), outline=fg, width=max(1, h // 24))
    shown = f"{text[:2]}·{text[2:]}"
    font = ImageFont.truetype(str(FONT), int(h * 0.72))
    x1, y1, x2, y2 = draw.textbbox((0, 0), shown, font=font)
    scale = min(1.0, (w * 0.92) / (x2 - x1))
    if scale < 1.0:
        font = ImageFont.truetype(str(FONT), int(h * 0.72 * scale))
        x1, y1, x2, y2 = draw.textbbox((0, 0), shown, font=font)
    draw.text(((w - (x2 - x1)) / 2 - x1, (h - (y2 - y1)) / 2 - y1), shown, font=font, fill=fg)
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def car_rear(text: str, *, width_px: int = 320, colour: str = "blue", seed: int = 0) -> np.ndarray:
    """The back of a car, a plate low in its middle, on a grey road: enough for OCR to meet a plate in context."""
    rng = np.random.default_rng(seed)
    h = int(width_px * 0.8)
    img = np.full((h + 60, width_px + 80, 3), 110, np.uint8)
    body = tuple(int(v) for v in rng.integers(30, 220, 3))
    cv2.rectangle(img, (40, 30), (40 + width_px, 30 + h), body, -1)
    cv2.rectangle(img, (60, 45), (20 + width_px, 30 + int(h * 0.45)), (60, 60, 70), -1)  # rear window
    plate = plate_image(text, max(16, width_px // 7), colour)
    ph, pw = plate.shape[:2]
    x, y = 40 + (width_px - pw) // 2, 30 + int(h * 0.7)
    img[y:y + ph, x:x + pw] = plate
    return img
