"""Known-wrong implementations of lab 08's exercises, with the hint each must get."""

WRONG = {}
