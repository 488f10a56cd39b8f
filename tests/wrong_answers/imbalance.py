"""Known-wrong implementations of lab 06's exercises, with the hint each must get."""

WRONG = {}
