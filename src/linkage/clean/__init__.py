"""linkage.clean"""
