"""Known-wrong implementations of lab 07's exercises, with the hint each must get."""

WRONG = {}
