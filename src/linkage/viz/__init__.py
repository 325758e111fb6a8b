"""linkage.viz"""
