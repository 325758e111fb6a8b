"""linkage.io"""
