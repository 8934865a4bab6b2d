"""Emoji segmentation: U-Net (smp) with confidence gate, contour fallback, pseudo-label rounds."""
