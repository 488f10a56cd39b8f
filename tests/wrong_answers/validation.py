"""Known-wrong implementations of lab 05's exercises, with the hint each must get."""

WRONG = {}
