"""Telegram static stickers from segmented emoji: trimmed RGBA, 512 px, ≤ 512 KB, contact sheet."""
