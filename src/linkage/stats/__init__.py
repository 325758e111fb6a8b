"""linkage.stats"""
