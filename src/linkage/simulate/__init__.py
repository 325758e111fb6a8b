"""linkage.simulate"""
