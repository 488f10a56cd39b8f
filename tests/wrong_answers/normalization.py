"""Known-wrong implementations of lab 02's exercises, with the hint each must get."""

WRONG = {}
