"""Known-wrong implementations of lab 11's exercises, with the hint each must get."""

WRONG = {}
