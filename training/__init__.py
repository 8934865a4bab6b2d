"""Training side: dataset, ruDALL-E fine-tuning, segmentation, stickers. Never imports streamlit."""
