"""JSON schemas of the files kernelfit writes."""
