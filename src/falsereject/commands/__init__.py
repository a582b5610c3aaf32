"""Subcommands of the ``falsereject`` console command (one module each)."""
