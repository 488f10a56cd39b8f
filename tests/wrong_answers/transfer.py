"""Known-wrong implementations of lab 10's exercises, with the hint each must get."""

WRONG = {}
