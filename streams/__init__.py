"""Faust stream processing: the stateful stages of the pipeline."""
