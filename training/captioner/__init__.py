"""Caption Loss (CogView's metric, the report's next one): an inverse image → caption rudalle model.

config.py (TOML), model.py (the image-then-text forward and the loss), load.py (base, file, `Captioner`),
train.py (`emojich captioner train`), score.py (`emojich score`, the fine-tune's hook), rerank.py
(`caption_losses`, `rerank_by_caption` for generation), stage.py (the demo's stage).
"""
