"""Known-wrong implementations of lab 01's exercises, with the hint each must get."""

WRONG = {}
