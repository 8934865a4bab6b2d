"""ruDALL-E side of training: loading, freezing, forward/loss, sampling and the fine-tuning loop."""
