"""The `micrograd` command (`micrograd.app.cli`) and the README's example expression."""
