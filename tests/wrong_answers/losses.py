"""Known-wrong implementations of lab 04's exercises, with the hint each must get."""

WRONG = {}
