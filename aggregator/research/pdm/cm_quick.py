import numpy as np, sys, time
from cm_common import *
from sklearn.linear_model import Ridge
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold
tr = load('train_FD001.txt'); cols = sensor_cols(tr); print('cols', [COLS[c] for c in cols])
tr3 = load('train_FD003.txt'); print('FD003 cols', [COLS[c] for c in sensor_cols(tr3)])
