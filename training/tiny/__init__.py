"""The tiny CPU path: the project's own YTTM tokenizer and small VQGanGumbelVAE, a random-init rudalle
DalleModel of small size, and the stage order (dataset → tokenizer → VAE → fine-tune) in pipeline.py."""
