"""linkage.panel"""
