"""The Draw tab (tab.py) and the views beside it: the canvas, Inside the CNN, Backprop, My digits, Mistakes."""
