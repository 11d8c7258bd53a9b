"""Chatting with a model: the model directory, conversation settings, prompt building and the
answer pipeline, plus the files and images a message carries (no Textual here).

Kept empty on purpose: widgets import small pure modules of this package (attachment labels,
part order), which must not bring the store or the engines with them.
"""
