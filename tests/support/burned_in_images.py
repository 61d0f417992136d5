"""Synthetic images with and without burned-in text (fake names, dates, IDs), for the burned-in
detector's tests and benchmark. Backgrounds look like anatomy (smooth blobs, edges, noise); text
is drawn at several sizes and contrasts in the corners, as modalities burn it in."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FAKE_NAMES = ["DOE^JANE", "TEST^ALICE", "SAMPLE^BOB", "DEMO^CAROL", "FAKE^DAVID", "MOCK^ERIN"]
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


@dataclass
class Sample:
    image: np.ndarray        # uint8 grey
    has_text: bool
    size: int | None = None  # text height in pixels
    contrast: float | None = None
    corner: str | None = None


def background(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Something like anatomy: an ellipse body with smooth blobs, bright edges and noise (0-255)."""
    y, x = np.mgrid[0:size, 0:size] / size
    cy, cx = rng.uniform(0.4, 0.6, 2)
    ry, rx = rng.uniform(0.25, 0.42, 2)
    body = (((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1).astype(np.float32) * rng.uniform(80, 140)
    for _ in range(int(rng.integers(3, 8))):
        by, bx, r = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.03, 0.12)
        body += np.exp(-(((y - by) ** 2 + (x - bx) ** 2) / (2 * r * r))) * rng.uniform(-60, 90)
    image = body + rng.normal(0, rng.uniform(2, 12), body.shape)
    return np.clip(image, 0, 255).astype(np.float32)


def fake_text(rnd: random.Random) -> str:
    kind = rnd.randrange(3)
    if kind == 0:
        return rnd.choice(FAKE_NAMES)
    if kind == 1:
        return f"{rnd.randint(1990, 2025)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    return f"ID {rnd.randint(100000, 999999)}"


def with_text(image: np.ndarray, text: str, height: int, contrast: float, corner: str) -> np.ndarray:
    """``text`` drawn ``height`` pixels high in ``corner``, ``contrast`` (0-1) above the local level."""
    font = ImageFont.truetype(FONT, height)
    mask = Image.new("L", (image.shape[1], image.shape[0]), 0)
    draw = ImageDraw.Draw(mask)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = 6
    x = margin if "left" in corner else image.shape[1] - (right - left) - margin
    y = margin if "top" in corner else image.shape[0] - (bottom - top) - margin - top
    draw.text((x, y), text, fill=255, font=font)
    alpha = np.asarray(mask, dtype=np.float32) / 255
    level = float(np.median(image[alpha > 0.5])) if (alpha > 0.5).any() else 0.0
    ink = min(255.0, level + contrast * 255) if level < 128 else max(0.0, level - contrast * 255)
    return image * (1 - alpha) + ink * alpha


def samples(count: int, seed: int = 0, sizes=(10, 14, 20, 28), contrasts=(0.35, 0.6, 1.0),
            image_size: int = 512) -> list[Sample]:
    """``count`` images, half with text (one to three strings in corners), half without."""
    rng, rnd = np.random.default_rng(seed), random.Random(seed)
    out = []
    for index in range(count):
        image = background(rng, image_size)
        if index % 2 == 0:
            out.append(Sample(image.astype(np.uint8), False))
            continue
        size, contrast = sizes[(index // 2) % len(sizes)], contrasts[(index // 2 // len(sizes)) % len(contrasts)]
        corners = rnd.sample(CORNERS, rnd.randint(1, 3))
        for corner in corners:
            image = with_text(image, fake_text(rnd), size, contrast, corner)
        out.append(Sample(np.clip(image, 0, 255).astype(np.uint8), True, size, contrast, corners[0]))
    return out
