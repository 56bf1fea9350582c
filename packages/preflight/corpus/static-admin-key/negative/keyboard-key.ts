window.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') submit();
});
