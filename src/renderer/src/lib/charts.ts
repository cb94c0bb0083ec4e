// ECharts, tree-shaken to what the workbench draws (bars and lines on a grid, with legend, tooltip and
// zoom), and colours read from the light/dark CSS variables so charts follow the theme.
import { use } from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, DataZoomComponent, MarkLineComponent, TitleComponent, CanvasRenderer]);

export interface ChartColors {
  text: string;
  muted: string;
  border: string;
  panel: string;
  accent: string;
  series: string[];
}

export function readChartColors(): ChartColors {
  const style = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--text', '#1d2330'),
    muted: v('--muted', '#5c6577'),
    border: v('--border', '#dde1e8'),
    panel: v('--panel', '#ffffff'),
    accent: v('--accent', '#3b5bdb'),
    series: [1, 2, 3, 4, 5].map((i) => v(`--series-${i}`, ['#3b5bdb', '#e8590c', '#2b8a3e', '#ae3ec9', '#c2255c'][i - 1])),
  };
}

/**
 * The colour of a method everywhere (curves, legends, table chips), stable across views: its place in `order`,
 * the method list as methods.list gives it (the methods store's `names`), so a method added there gets a colour too.
 */
export function methodColor(method: string, colors: ChartColors, order: readonly string[]): string {
  const index = order.indexOf(method);
  return colors.series[(index >= 0 ? index : order.length) % colors.series.length];
}

/** Axis styling shared by every chart. */
export function axisStyle(colors: ChartColors): Record<string, unknown> {
  return {
    axisLine: { lineStyle: { color: colors.border } },
    axisLabel: { color: colors.muted },
    splitLine: { lineStyle: { color: colors.border, opacity: 0.6 } },
    nameTextStyle: { color: colors.muted },
  };
}

/** A value axis of whole numbers (steps, tokens): no ticks between integers, labels with separators. */
export function integerAxis(colors: ChartColors): Record<string, unknown> {
  const style = axisStyle(colors);
  return {
    ...style,
    minInterval: 1,
    axisLabel: { ...(style.axisLabel as Record<string, unknown>), formatter: (value: number) => Math.round(value).toLocaleString('en-US') },
  };
}
