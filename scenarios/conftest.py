"""Scenarios are collected by pytest; the mailspec plugin (entry point pytest11) does the rest."""
