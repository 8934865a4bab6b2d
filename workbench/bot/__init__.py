"""The Telegram bot (python-telegram-bot; never loads a model) and the workers that draw its requests.

Never imports streamlit or the workbench app: the bot and the workers talk to the rest of the system
only through the database (db/jobs.py, db/sticker_sets.py).
"""
