"""Known-wrong implementations of lab 09's exercises, with the hint each must get."""

WRONG = {}
