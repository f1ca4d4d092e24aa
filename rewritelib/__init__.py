"""rewritelib: instruction diversity and generalization to unseen string-rewrite rules."""

__version__ = "0.1.0"
