"""linkage.app"""
