"""Pure logic behind the workbench pages: score intervals, agreement, Bradley–Terry, stopping rule."""
